"""Pure rules: what nginx configuration the routing of the apps makes, and who broke it."""
