"""Building blocks shared by the apps' model builders."""
