"""deis_builder: `git push` over SSH, buildpacks, slugs, build events."""
