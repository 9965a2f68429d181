"""QuickBooks: Online (REST) and Desktop (qbXML through the Web Connector or COM)."""
