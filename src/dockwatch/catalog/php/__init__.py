"""PHP Composer packages: `vendor/composer/installed.json` and `composer.lock`."""

from dockwatch.catalog.php.cataloger import CATALOGER

__all__ = ["CATALOGER"]
