// {{serviceType}}: {{description}}
import { bootstrap } from 'exosphere-client';

import { handlers } from './handlers.js';

bootstrap(handlers);
