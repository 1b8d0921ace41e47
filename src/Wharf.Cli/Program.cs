using System.CommandLine;
using Wharf.Cli.Client;
using Wharf.Cli.Commands;

var root = new RootCommand("Wharf: a self-hosted Docker Hub — registry, accounts, search and image builds.");
root.Subcommands.Add(ServeCommand.Create(args));
root.Subcommands.Add(MigrateCommand.Create(args));
root.Subcommands.Add(Wharf.Cli.Commands.MigrateStore.MigrateStoreCommand.Create(args));
root.Subcommands.Add(GcCommand.Create(args));
root.Subcommands.Add(UserCommand.Create());
root.Subcommands.Add(WorkerCommand.Create(args));
Wharf.Cli.Commands.Builds.BuildCommands.AddTo(root);
Wharf.Cli.Commands.WebhookCommands.AddTo(root);
Wharf.Cli.Commands.PolicyCommands.AddTo(root);
ClientCommands.AddTo(root);
return await ClientCommands.InvokeAsync(root, args);
