"""The course's translations: gettext catalogues and the tool that applies and checks them."""
