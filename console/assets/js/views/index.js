import {overview} from './overview.js';
import {queues} from './queues.js';
import {tasks} from './tasks.js';
import {task} from './task.js';
import {workers} from './workers.js';
import {schedules} from './schedules.js';
import {errors} from './errors.js';
import {bulk} from './bulk.js';
import {audit} from './audit.js';

export const views = {overview, queues, tasks, task, workers, schedules, errors, bulk, audit};
