"""The provider's shape: regions, services, locations, routes, staff groups, people supported."""
