"""Analysis steps and the runner every analysis builds on."""
