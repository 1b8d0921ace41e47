using System.CommandLine;

namespace Wharf.Cli.Commands;

/// <summary>
/// A command that runs a .NET host until it is stopped (<c>wharf serve</c>, <c>wharf worker</c>). Its host owns SIGTERM
/// and Ctrl+C: it stops taking new work, lets the requests and builds in flight finish within the host's shutdown
/// timeout (30 s), and the command exits 0. System.CommandLine's own handling, which ends the process with 143 two
/// seconds after the signal, is off for these commands (<see cref="Wharf.Cli.Client.ClientCommands.InvokeAsync"/>): it
/// cut that drain short whenever stopping took longer, under a slow disk or with a push in flight.
/// </summary>
public sealed class HostCommand(string name, string description) : Command(name, description);
