from bayes_passk.data import InputError, PassData

__all__ = ["InputError", "PassData"]
