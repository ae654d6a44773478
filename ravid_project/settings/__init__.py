"""Settings, one module per topic; every value comes from the environment (see .env.example)."""
from .core import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403
from .jobs import *  # noqa: F401,F403
from .storage import *  # noqa: F401,F403
from .logs import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
