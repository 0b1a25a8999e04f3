"""synthhuman: synthetic human datasets with exact ground truth, and the DAViD models.

The top-level package is pure Python + numpy: ``import synthhuman`` never imports bpy or
torch. Rendering lives in :mod:`synthhuman.render` (needs ``bpy`` and ``anny``), training
in :mod:`synthhuman.train` (needs ``torch``).
"""

__version__ = "0.1.0"
