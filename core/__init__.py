"""Near Miss Portal domain package.

Organised by domain concept (organisation, taxonomy, auth, reports, audit, ...). Nothing in
this package imports Streamlit: every rule lives here and is tested without a UI.
"""
