// The shared C library (liblinrec.so): its symbols all come from linrec_runtime, linked whole-archive.
