// duet/net/net.hpp — duet::net, named after System.Net.Sockets: Socket, IPAddress/IPEndPoint,
// TcpListener, TcpClient, NetworkStream, Dns, SocketError; and HTTP (http.hpp).
#pragma once

#include "duet/net/dns.hpp"
#include "duet/net/ip_address.hpp"
#include "duet/net/socket.hpp"
#include "duet/net/socket_error.hpp"
#include "duet/net/tcp.hpp"
#include "duet/net/http.hpp"
