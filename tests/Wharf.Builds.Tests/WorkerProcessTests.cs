using System.Diagnostics;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary><c>wharf worker</c> processes beside a <c>serve --workers 0</c>, sharing its data folder.</summary>
[Trait("Category", "Builds")]
public sealed class WorkerProcessTests
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    private static Process StartWorker(BuildServer server)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "wharf.dll"), "worker", "--data-dir", server.Server.DataDir,
                     "--registry", server.Server.HostPort, "--Wharf:Builds:LeaseDuration=00:00:03", "--Wharf:Builds:PollInterval=00:00:00.200"])
        {
            psi.ArgumentList.Add(arg);
        }
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [Fact]
    public async Task A_worker_killed_mid_build_loses_its_lease_and_another_worker_builds_it_again()
    {
        await using var server = await BuildServer.StartAsync(Ct, null, "--workers", "0");
        var id = await server.SubmitOkAsync($"FROM {server.BaseImage}\nRUN echo mid-build && sleep 4 && echo finished > /f.txt\n", "workers/app:1", Ct);
        using (var doomed = StartWorker(server))
        {
            try
            {
                await server.WaitForLogAsync(id, "mid-build", Ct);
            }
            finally
            {
                // The machine dies: the worker and its buildah go at once, nothing is given back.
                doomed.Kill(entireProcessTree: true);
                await doomed.WaitForExitAsync(Ct);
            }
        }
        Assert.Equal("running", (await server.GetBuildAsync(id, Ct))["state"]!.GetValue<string>());
        using var survivor = StartWorker(server);
        try
        {
            var build = await server.AssertSucceededAsync(id, Ct);
            Assert.Equal(2, build["attempts"]!.GetValue<int>());
            Assert.Equal(2, build["build_runs"]!.GetValue<int>());
            Assert.Equal("finished\n", await BuildServer.ReadFileFromImageAsync(server.Registry, "workers/app", "1", "f.txt", Ct));
        }
        finally
        {
            survivor.Kill(entireProcessTree: true);
            await survivor.WaitForExitAsync(CancellationToken.None);
        }
    }
}
