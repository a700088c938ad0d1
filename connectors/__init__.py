"""Platform connectors. Each subpackage turns one platform's events into :class:`LearningEvent`."""
