"""Starting the app and a fake-camera Chromium, the way a user's browser meets it: shared by the browser
tests, the app benchmarks and the screenshot script."""
