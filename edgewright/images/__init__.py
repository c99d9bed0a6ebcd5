"""The site's images: built from source on the controller, pushed to the site registry, pinned by digest."""
