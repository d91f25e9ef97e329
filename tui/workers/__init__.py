"""The dashboard's long work, each in its own worker group, each reporting back as Textual messages.

`validation` (debounced analysis of the editor text), `verification` (signatures, in a thread
with its own event loop) and `comparison` (the saved policy against the edited one). Each
module holds the work and the `Message` classes it posts; the app starts the workers and
handles the messages (`on_…`), so no worker touches a widget.
"""
