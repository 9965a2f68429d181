"""The Sync area, the status-bar sync widget and the controller they share."""

from app.gui.sync.area import SyncArea, create_sync_area
from app.gui.sync.controller import SyncController, controller_for
from app.gui.sync.status import SyncStatusWidget, create_sync_status

__all__ = ["SyncArea", "SyncController", "SyncStatusWidget", "controller_for",
           "create_sync_area", "create_sync_status"]
