"""A local stand-in for Autotask PSA's REST API (see `server.AutotaskSandbox`)."""

from app.sandbox.autotask.data import DataSizes
from app.sandbox.autotask.faults import Faults, ScriptedFault
from app.sandbox.autotask.server import AutotaskSandbox, SandboxCredentials

__all__ = ["AutotaskSandbox", "DataSizes", "Faults", "SandboxCredentials", "ScriptedFault"]
