"""Anny"s rig names (PyPI `anny` 0.6.2), so a config can be checked without loading Anny.

The pose config names bones and face units; a typo there would otherwise fail every sample
inside Blender. These tuples are what `anny.Anny(local_changes="default",
facial_actions="all", phenotypes="all")` reports as `bone_labels` and
`facial_action_labels`; `tests/render/test_anny_rig.py` compares them with the installed
Anny, so an Anny upgrade that renames a bone fails there, not in a render.
"""

ANNY_VERSION = "0.6.2"

BONES = (
    "root", "pelvis.L", "upperleg01.L", "upperleg02.L", "lowerleg01.L", "lowerleg02.L",
    "foot.L", "toe1-1.L", "toe1-2.L", "toe2-1.L", "toe2-2.L", "toe2-3.L", "toe3-1.L",
    "toe3-2.L", "toe3-3.L", "toe4-1.L", "toe4-2.L", "toe4-3.L", "toe5-1.L", "toe5-2.L",
    "toe5-3.L", "pelvis.R", "upperleg01.R", "upperleg02.R", "lowerleg01.R", "lowerleg02.R",
    "foot.R", "toe1-1.R", "toe1-2.R", "toe2-1.R", "toe2-2.R", "toe2-3.R", "toe3-1.R",
    "toe3-2.R", "toe3-3.R", "toe4-1.R", "toe4-2.R", "toe4-3.R", "toe5-1.R", "toe5-2.R",
    "toe5-3.R", "spine05", "spine04", "spine03", "spine02", "spine01", "clavicle.L",
    "shoulder01.L", "upperarm01.L", "upperarm02.L", "lowerarm01.L", "lowerarm02.L", "wrist.L",
    "finger1-1.L", "finger1-2.L", "finger1-3.L", "metacarpal1.L", "finger2-1.L", "finger2-2.L",
    "finger2-3.L", "metacarpal2.L", "finger3-1.L", "finger3-2.L", "finger3-3.L",
    "metacarpal3.L", "finger4-1.L", "finger4-2.L", "finger4-3.L", "metacarpal4.L",
    "finger5-1.L", "finger5-2.L", "finger5-3.L", "clavicle.R", "shoulder01.R", "upperarm01.R",
    "upperarm02.R", "lowerarm01.R", "lowerarm02.R", "wrist.R", "finger1-1.R", "finger1-2.R",
    "finger1-3.R", "metacarpal1.R", "finger2-1.R", "finger2-2.R", "finger2-3.R",
    "metacarpal2.R", "finger3-1.R", "finger3-2.R", "finger3-3.R", "metacarpal3.R",
    "finger4-1.R", "finger4-2.R", "finger4-3.R", "metacarpal4.R", "finger5-1.R", "finger5-2.R",
    "finger5-3.R", "neck01", "neck02", "neck03", "head", "eye.L", "eye.R",
)

FACE_UNITS = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)
