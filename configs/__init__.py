"""Scene-distribution YAML (default.yaml, pose.yaml), shipped inside the package as synthhuman.configs."""
