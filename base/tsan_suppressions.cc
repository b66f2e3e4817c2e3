// ThreadSanitizer suppressions built into the binaries that link this file. Debian's gRPC,
// protobuf and abseil are not built with -fsanitize=thread, so TSan cannot see their
// synchronisation and reports races inside them that are not there. Races in Sluice's own
// code are still reported (and fail the tsan test stage). Without TSan this is never called.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libprotobuf.so\n"
         "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libprotobuf.so\n"
         "race:libabsl_*\n"
         "race:libcivetweb\n"
         "race:libprometheus-cpp\n";
}
