"""Training Arena: entry point. Builds the navigation only; every page lives in pages/."""

import streamlit as st

st.set_page_config(
    page_title="Training Arena", page_icon=":material/model_training:", layout="wide"
)

pages = {
    "Train": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/dataset.py", title="Dataset", icon=":material/table:"),
        st.Page("pages/strategy.py", title="Strategy", icon=":material/tune:"),
    ],
    "Results": [
        st.Page("pages/sessions.py", title="Sessions", icon=":material/folder_open:"),
        st.Page("pages/monitor.py", title="Monitor", icon=":material/monitoring:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/bolt:"),
    ],
}

st.navigation(pages).run()
