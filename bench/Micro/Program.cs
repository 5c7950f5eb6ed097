using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Micro -- --filter '*'   (see bench/README.md)
BenchmarkSwitcher.FromAssembly(typeof(BluesMinds.Bench.Micro.HotPathBenchmarks).Assembly).Run(args);
