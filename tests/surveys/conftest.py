"""Fixtures of the surveys tests; the telephony ones are shared for IVR surveys and scripts."""

from tests.telephony.conftest import (  # noqa: F401 (fixtures used by name)
    main_menu,
    phone_number,
    support_queue,
    twilio_post,
)
from tests.telephony.incall_support import clean_log  # noqa: F401 (fixture)
from tests.telephony.simulator_support import clean_rest_log  # noqa: F401 (fixture)
