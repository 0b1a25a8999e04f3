"""Asset manifest YAML, one file per asset family, shipped inside the package as synthhuman.assets_manifest."""
