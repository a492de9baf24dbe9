"""The dashboards' router: `streamlit run dashboards/streamlit_app.py` (started by `recarga up`).

Four pages under `app_pages/`: book a trip, drive it, the network map, the event log.
Where the servers are comes from RECARGA_CLIENTS_FILE (default run/clients.json).
"""

import streamlit as st

from dashboards import client  # the installed project (`make setup`: pip install -e .), from any folder

st.set_page_config(page_title="recarga", page_icon="⚡", layout="wide")

page = st.navigation([
    st.Page("app_pages/book.py", title="Book a trip", icon=":material/ev_station:", default=True),
    st.Page("app_pages/drive.py", title="Drive", icon=":material/directions_car:"),
    st.Page("app_pages/network.py", title="Network map", icon=":material/map:"),
    st.Page("app_pages/eventlog.py", title="Event log", icon=":material/history:"),
])

with st.sidebar:
    st.caption("recarga — EV charging across Brazil's Northeast")
    me = client.session()
    if me is not None:
        try:
            home = {c["id"]: c["name"] for c in client.network().get("companies", [])}.get(me.company, me.company)
        except (client.ServerDown, client.ApiError):
            home = me.company
        st.caption(f"Logged in: **{me.driver or me.vehicle_id}** · home company **{home}**")
    if not client.companies():
        st.warning(f"No servers configured: {client.clients_file()} is missing. Start the network with "
                   "`recarga up`.")

client.write_cookie()  # a log-in or log-out of the run before (which ended in a rerun) is kept by the browser
page.run()
