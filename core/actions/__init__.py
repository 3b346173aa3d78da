"""The Quality Improvement Action Plan Builder: action plans, actions with owners, deadlines,
evidence checks and review dates, action strength, test windows with verification measures,
sustainment checks, and the action register."""
