#include <cstdio>
int main() { std::puts("specdyn: command line coming"); }
