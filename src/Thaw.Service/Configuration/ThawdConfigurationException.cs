namespace Thaw.Service.Configuration;

/// <summary>thawd's configuration cannot be used: the message names where (file, variable or flag), the key and the problem.</summary>
public sealed class ThawdConfigurationException(string message) : ArgumentException(message);
