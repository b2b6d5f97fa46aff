"""The local harness: the deployed stack's state machine on moto, the real handlers, an emulated Bedrock.

``python -m tuner run FILE --local`` (``tuner/commands/run.py``) drives ``harness.LocalRun``. Modules:
``template`` (synthesis cache, CloudFormation intrinsics), ``lambda_adapter`` (moto Lambda tasks -> in-process
handlers), ``time_compression`` + ``simclock`` (simulated time), ``events`` (EventBridge rules and events),
``bedrock`` (the emulator and its loopback servers), ``scenarios`` (``--simulate``), ``progress`` (rich display).
"""
