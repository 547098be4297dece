"""RPC messages: request/reply over NATS core, one module per answering service.

Each module names its subjects (`deis.rpc.<service>.<method>`) and a request and a reply model
per method. Requests and replies are `Message`s too, so a reply can be traced to its time of
writing; the bus adapter maps timeouts and missing responders to its own errors.
"""
