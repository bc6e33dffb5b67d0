def test_instance_uses_repo_config(instance):
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
