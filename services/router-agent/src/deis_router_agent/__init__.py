"""nginx configured from KV routes and endpoints: render, validate, swap, reload."""
