from tests.fakes.s3 import moto_endpoint, s3_store

__all__ = ["moto_endpoint", "s3_store"]
