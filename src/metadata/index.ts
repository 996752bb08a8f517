export { openDatabase, type SqliteDb } from './db.js';
export { ImageTable, type ImageRecord, type LayerRecord, type RefRecord } from './images.js';
export { ContainerTable } from './containers.js';
