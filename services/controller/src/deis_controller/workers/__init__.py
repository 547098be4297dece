"""Background work beside the API: builder RPCs and the build-event consumer."""
