"""PHP Composer packages: `vendor/composer/installed.json` and `composer.lock`."""

from dockwatch.catalog.php.cataloger import CATALOGER, LOCK_CATALOGER

__all__ = ["CATALOGER", "LOCK_CATALOGER"]
