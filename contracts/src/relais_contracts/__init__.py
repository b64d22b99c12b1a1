"""relais_contracts: the Relais wire contract (envelope, messages, topology, catalogue)."""

#: Version of the contract package; also the ``info.version`` of the AsyncAPI document.
#: Keep equal to ``version`` in contracts/pyproject.toml (a test checks it).
CONTRACT_VERSION = "1.1.0"
__version__ = CONTRACT_VERSION
