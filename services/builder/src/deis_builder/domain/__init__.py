"""Pure rules of the builder: SSH commands, refs, Procfiles, paths under the git root."""
