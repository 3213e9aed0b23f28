"""HTTP checker of the Le Stats Sportif server and its independent reference."""
