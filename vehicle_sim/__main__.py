"""`python -m vehicle_sim` — see vehicle_sim.cli."""

from vehicle_sim.cli import app

if __name__ == "__main__":
    app(prog_name="python -m vehicle_sim")
