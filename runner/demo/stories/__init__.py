"""The demo's stories, one module each, played in order by ``runner.demo._stories``."""
