"""Buildpacks: detect what an app is and compile its source into a slug directory."""
