"""Personal data: finding it in text, applying each tenant's policy to it (allow, mask, pseudonymise,
block), and answering data subjects' requests (access, erasure) over everything the platform holds."""
