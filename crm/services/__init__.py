"""Every write in the CRM, one module per concept. Import from the concept module:
`from crm.services.tickets import ticket_create`."""
