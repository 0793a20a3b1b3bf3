// 802.11s scenarios run in ns-3 (Debian's libns3-dev) to record captures
// that ns-3's mesh stack, not ours, produced. tools/ns3/record.py builds
// and runs this; pcaps/ns3/README.md says what each scenario is.
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/mesh-module.h"
#include "ns3/mobility-module.h"
#include "ns3/network-module.h"
#include "ns3/wifi-module.h"

using namespace ns3;

namespace
{

// UDP echo from one node to another: requests one way, replies the other,
// so both directions of the path are exercised.
void
Echo(NodeContainer& nodes, Ipv4InterfaceContainer& ifs, uint32_t from, uint32_t to, uint16_t port,
     double start, double interval, double stop)
{
    UdpEchoServerHelper server(port);
    server.Install(nodes.Get(to)).Start(Seconds(0));
    UdpEchoClientHelper client(ifs.GetAddress(to), port);
    client.SetAttribute("MaxPackets", UintegerValue(1000));
    client.SetAttribute("Interval", TimeValue(Seconds(interval)));
    client.SetAttribute("PacketSize", UintegerValue(100));
    ApplicationContainer app = client.Install(nodes.Get(from));
    app.Start(Seconds(start));
    app.Stop(Seconds(stop));
}

} // namespace

int
main(int argc, char** argv)
{
    std::string scenario;
    std::string out;
    CommandLine cmd;
    cmd.AddValue("scenario", "proactive-line | three-flows-line | do-flag-line | line-break | flame", scenario);
    cmd.AddValue("out", "pcap file prefix", out);
    cmd.Parse(argc, argv);
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(1);

    uint32_t n = 5;
    double stop = 5;
    std::string stack = "ns3::Dot11sStack";
    bool radiotap = false;
    if (scenario == "three-flows-line" || scenario == "do-flag-line")
    {
        n = 4;
    }
    else if (scenario == "line-break")
    {
        stop = 10;
        radiotap = true;
    }
    else if (scenario == "flame")
    {
        n = 3;
        stack = "ns3::FlameStack";
    }
    else if (scenario != "proactive-line")
    {
        NS_FATAL_ERROR("unknown scenario " << scenario);
    }
    if (scenario == "do-flag-line")
    {
        // Only targets answer PREQs: no intermediate replies.
        Config::SetDefault("ns3::dot11s::HwmpProtocol::DoFlag", BooleanValue(true));
        Config::SetDefault("ns3::dot11s::HwmpProtocol::RfFlag", BooleanValue(false));
    }

    // A line with 100 m between neighbours: each node hears only the next
    // one with ns-3's default channel and Yans error model.
    NodeContainer nodes;
    nodes.Create(n);
    MobilityHelper mobility;
    mobility.SetPositionAllocator("ns3::GridPositionAllocator",
                                  "MinX", DoubleValue(0), "MinY", DoubleValue(0),
                                  "DeltaX", DoubleValue(100), "DeltaY", DoubleValue(0),
                                  "GridWidth", UintegerValue(n), "LayoutType", StringValue("RowFirst"));
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    mobility.Install(nodes);

    YansWifiPhyHelper phy;
    phy.SetErrorRateModel("ns3::YansErrorRateModel");
    YansWifiChannelHelper channelHelper = YansWifiChannelHelper::Default();
    phy.SetChannel(channelHelper.Create());
    phy.DisablePreambleDetectionModel();
    if (radiotap)
    {
        phy.SetPcapDataLinkType(WifiPhyHelper::DLT_IEEE802_11_RADIO);
    }

    MeshHelper mesh = MeshHelper::Default();
    if (scenario == "proactive-line")
    {
        // The middle node (ns-3 numbers MACs from 00:00:00:00:00:01).
        mesh.SetStackInstaller(stack, "Root", Mac48AddressValue(Mac48Address("00:00:00:00:00:03")));
    }
    else
    {
        mesh.SetStackInstaller(stack);
    }
    mesh.SetMacType("RandomStart", TimeValue(Seconds(0.1)));
    mesh.SetNumberOfInterfaces(1);
    NetDeviceContainer devices = mesh.Install(phy, nodes);
    mesh.AssignStreams(devices, 0);

    InternetStackHelper internet;
    internet.SetIpv6StackInstall(false);
    internet.Install(nodes);
    internet.AssignStreams(nodes, 2000);
    Ipv4AddressHelper address;
    address.SetBase("10.1.1.0", "255.255.255.0");
    Ipv4InterfaceContainer ifs = address.Assign(devices);

    if (scenario == "proactive-line")
    {
        Echo(nodes, ifs, 4, 0, 9, 2.5, 0.5, stop);
    }
    else if (scenario == "three-flows-line" || scenario == "do-flag-line")
    {
        Echo(nodes, ifs, 1, 0, 9, 2.2, 1, stop);
        Echo(nodes, ifs, 2, 0, 10, 2.0, 1, stop);
        Echo(nodes, ifs, 0, 3, 11, 2.4, 1, stop);
    }
    else if (scenario == "line-break")
    {
        Echo(nodes, ifs, 0, 4, 9, 2.0, 0.25, stop);
        // The middle relay leaves range for good: PERR, and no other path.
        Ptr<MobilityModel> relay = nodes.Get(2)->GetObject<MobilityModel>();
        Simulator::Schedule(Seconds(5), [relay]() { relay->SetPosition(Vector(200, 10000, 0)); });
    }
    else
    {
        Echo(nodes, ifs, 0, 2, 9, 1.0, 0.5, stop);
    }

    phy.EnablePcapAll(out);
    Simulator::Stop(Seconds(stop));
    Simulator::Run();
    Simulator::Destroy();
    return 0;
}
