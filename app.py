"""Training Arena: entry point. Builds the navigation only; every page lives in app_pages/."""

import streamlit as st

st.set_page_config(
    page_title="Training Arena", page_icon=":material/model_training:", layout="wide"
)

pages = {
    "Train": [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("app_pages/dataset.py", title="Dataset", icon=":material/table:"),
        st.Page("app_pages/strategy.py", title="Strategy", icon=":material/tune:"),
    ],
    "Results": [
        st.Page("app_pages/sessions.py", title="Sessions", icon=":material/folder_open:"),
        st.Page("app_pages/monitor.py", title="Monitor", icon=":material/monitoring:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("app_pages/benchmark.py", title="Benchmark", icon=":material/leaderboard:"),
        st.Page("app_pages/predict.py", title="Predict", icon=":material/bolt:"),
    ],
}

st.navigation(pages).run()
