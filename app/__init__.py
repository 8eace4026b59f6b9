"""The application room: the signed-in session and every use case the faces call.

Faces (`ui/`: the CLI, the Streamlit workspace) sign in here (`app.session.sign_in`)
and then call the `Session`'s methods only: ask, search, documents, translate,
summarise, ingest, status, users, audit, eval. What they get back is plain typed
results (`app.results`), already limited to what the user's clearance allows.

Imports flow one way: faces -> app -> ingest -> retrieval -> core (`vigie`).
"""
